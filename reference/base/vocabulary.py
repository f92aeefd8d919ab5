"""Closed vocabularies as types: a Vocabulary is a str Enum whose members compare, hash, print and cross to JSON as
their words, so a member and its word are one key, and a word outside the vocabulary is the harness's own error
(ValueError naming the words there are), never a new category made by a typo."""

from enum import Enum


class Vocabulary(str, Enum):
    def __str__(self):
        return self.value

    def __hash__(self):  # as its word's: a member and its word are one key (Enum hashes the member's name)
        return str.__hash__(self)

    def __format__(self, spec):
        return format(self.value, spec)

    @classmethod
    def _missing_(cls, value):
        raise ValueError(f"{value!r} is not a word of {cls.__name__}: "
                         + ", ".join(repr(member.value) for member in cls))
