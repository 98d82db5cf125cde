"""Label tables and conventions (:mod:`fetalseg.labels`)."""

from .convert import DHCP_TO_FETA, GENERATION_TO_FETA, TABLES, TO_FETA, WITHCC_TO_FETA, lookup_table, relabel, to_feta
from .feta import DHCP, FETA, GENERATION, WITHCC
from .table import Label, LabelTable

__all__ = [
    "Label", "LabelTable", "FETA", "WITHCC", "GENERATION", "DHCP",
    "TABLES", "TO_FETA", "WITHCC_TO_FETA", "GENERATION_TO_FETA", "DHCP_TO_FETA",
    "lookup_table", "relabel", "to_feta",
]
