"""luigi_airbyte.sync"""
