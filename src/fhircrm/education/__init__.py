"""Patient education: a library of plain-language content per language, condition, procedure and journey stage,
sent at the right moment through the channel layer (purpose ``education``, so consent and the patient's
frequency cap apply) and recorded as Communications."""

from fhircrm.education.library import Content, catalog, for_condition, for_service
from fhircrm.education.send import send_education

__all__ = ["Content", "catalog", "for_condition", "for_service", "send_education"]
