"""Experience measurement: NPS, CSAT and a short PREM, asked at a touchpoint on the patient's channel, answered by
a signed web link or an SMS reply, stored as QuestionnaireResponses; low scores open service-recovery Tasks."""

from fhircrm.surveys.record import record_response
from fhircrm.surveys.send import SurveyOutcome, send_survey

__all__ = ["SurveyOutcome", "record_response", "send_survey"]
