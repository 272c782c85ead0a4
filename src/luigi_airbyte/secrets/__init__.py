"""luigi_airbyte.secrets"""
