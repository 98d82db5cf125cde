"""Fetal brain MRI phantoms with known truth (:mod:`fetalseg.phantom`).

:func:`make_subject` simulates one fetal head at a gestational age (20-38 weeks), normal or with
a pathology (ventriculomegaly, agenesis of the corpus callosum, spina bifida / Chiari II,
microcephaly): GENERATION and FeTA label maps with the FeTA topology, a T2w image with
age-dependent contrast and named acquisition sites, and biometry truth measured on the anatomy.
:func:`make_cohort` writes a FeTA/BIDS dataset of such subjects.
"""

from .acquisition import SITE_ORDER, SITES, quality_score
from .anatomy import PATHOLOGIES
from .subject import PhantomSubject, make_subject

__all__ = ["PhantomSubject", "make_subject", "make_cohort", "PATHOLOGIES", "SITES", "SITE_ORDER", "quality_score"]


def make_cohort(*args, **kwargs):
    """Write a FeTA/BIDS cohort of phantoms (see :func:`fetalseg.phantom.cohort.make_cohort`)."""
    from .cohort import make_cohort as _make

    return _make(*args, **kwargs)
