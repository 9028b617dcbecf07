"""Services: the platform's behaviour, over ports. They import core, domain, ports, errors."""
