"""How the contexts' finders match what an operator types: an id in full, or its first
characters (the console shows ids shortened), and text anywhere in an email or a name."""

from django.db.models import Q

# Shorter prefixes match too much to be a search for one thing.
ID_PREFIX_MIN = 6
TEXT_MIN = 3


def id_matches(field: str, term: str) -> Q:
    """``field`` is ``term``, or starts with it when ``term`` is long enough to mean one id."""
    term = term.strip()
    if not term:
        return Q(pk__in=[])
    if len(term) < ID_PREFIX_MIN:
        return Q(**{field: term})
    return Q(**{field: term}) | Q(**{f"{field}__istartswith": term})


def text_matches(field: str, term: str) -> Q:
    """``term`` anywhere in ``field``, whatever its case (nothing for a term too short)."""
    term = term.strip()
    if len(term) < TEXT_MIN:
        return Q(pk__in=[])
    return Q(**{f"{field}__icontains": term})
