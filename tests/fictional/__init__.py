"""Providers that do not exist: they prove a provider is one package plus one registry entry."""
