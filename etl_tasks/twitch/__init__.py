"""Twitch pipeline: Helix API client, extract/transform/load stages, warehouse schema.

``client`` speaks Twitch Helix (api-contract.md Part A); the stage modules build on it. Importing
this package imports no task, so the client can be used (and tested) without Luigi's task registry.
"""
