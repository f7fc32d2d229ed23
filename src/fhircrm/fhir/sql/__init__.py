"""SQL storage of FHIR resources: tables, writer, reader and the search compiler."""
