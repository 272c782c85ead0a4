"""luigi_airbyte.tasks"""
