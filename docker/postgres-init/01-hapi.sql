-- HAPI FHIR keeps its own database beside fhircrm's, on the same PostgreSQL server.
CREATE DATABASE hapi OWNER fhircrm;
