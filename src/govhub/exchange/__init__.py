"""Government Data Exchange (plan 5.5): members, services, access rights, consent, evidence."""
