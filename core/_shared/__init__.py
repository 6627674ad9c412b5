"""The base every layer shares: domain errors, the vocabulary of options, resource limits.

Free of numpy at import time; imports nothing else of flipconv."""
