"""Real Airbyte source connectors in the sandbox: environments, the protocol, sync attempts.

``envs`` builds one virtualenv per connector requirement in a shared cache; ``runner`` runs a
connector command as a child process; ``protocol`` parses its messages and shapes failures as
Airbyte reports them; ``hub`` validates a world's connectors and caches their catalogs;
``sync`` runs one sync attempt with ``read``.
"""
