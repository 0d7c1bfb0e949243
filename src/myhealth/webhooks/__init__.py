"""Oura webhooks: the subscriptions, the receiver on the API, the worker in the processor."""
