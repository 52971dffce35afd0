"""Which field a CSV column fills, judged by its heading, whatever wrote the file.

Headings are compared after normalising (lower-case, letters and digits
only), through a table of the names spreadsheets, CRMs and mailing tools use,
in English and in German, French, Spanish and Dutch: ``First Name``,
``first_name``, ``FirstName``, ``Given name`` and ``Vorname`` are all the first
name. :mod:`salesdesk.services.importing` plans a file's columns with it.
"""

from __future__ import annotations

# The fields a column can fill. "name" is a whole name, split into first and last.
FIELDS = (
    "first_name",
    "last_name",
    "name",
    "email",
    "phone",
    "company",
    "source",
    "score",
    "priority",
)
CUSTOM = "custom"  # keep the column in the lead's custom dict
IGNORE = "ignore"  # drop the column

# The columns of SalesDesk's own export that describe a lead's life on the floor
# it came from (normalised). A file with all of them is one of SalesDesk's
# exports, and an import leaves them out: they are not the lead's details.
EXPORT_STATE = frozenset(
    {
        "pool",
        "status",
        "owner",
        "added",
        "assigned",
        "lastaction",
        "lastcontacted",
        "callback",
        "emailconfirmed",
        "appointment",
        "dead",
        "tags",
    }
)

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "first_name": (
        "firstname",
        "first",
        "givenname",
        "forename",
        "fname",
        "christianname",
        "personfirstname",
        # German, French, Spanish, Dutch exports
        "vorname",
        "prénom",
        "prenom",
        "nombre",
        "voornaam",
    ),
    "last_name": (
        "lastname",
        "surname",
        "familyname",
        "last",
        "lname",
        "personlastname",
        "nachname",
        "familienname",
        "nom",
        "nomdefamille",
        "apellido",
        "apellidos",
        "achternaam",
        "cognome",
    ),
    "name": (
        "name",
        "fullname",
        "contactname",
        "personname",
        "leadname",
        "customername",
        "clientname",
        "displayname",
    ),
    "email": (
        "email",
        "emailaddress",
        "mail",
        "mailaddress",
        "emailaddr",
        "emailid",
        "primaryemail",
        "workemail",
        "businessemail",
        "contactemail",
        "personemail",
        "emailvalue",
        "emailadresse",
        "courriel",
        "adressemail",
        "adresseemail",
        "correo",
        "correoelectrónico",
        "correoelectronico",
    ),
    "phone": (
        "phone",
        "phonenumber",
        "phoneno",
        "telephone",
        "telephonenumber",
        "tel",
        "telno",
        "mobile",
        "mobilephone",
        "mobilephonenumber",
        "mobilenumber",
        "mobileno",
        "cell",
        "cellphone",
        "cellphonenumber",
        "cellnumber",
        "primaryphone",
        "workphone",
        "workphonenumber",
        "businessphone",
        "officephone",
        "directphone",
        "directdial",
        "homephone",
        "contactnumber",
        "contactphone",
        "landline",
        "personphone",
        "phonevalue",
        "telefon",
        "telefonnummer",
        "handy",
        "mobil",
        "mobilnummer",
        "téléphone",
        "portable",
        "teléfono",
        "telefono",
        "móvil",
        "movil",
        "celular",
        "telefoon",
        "telefoonnummer",
        "mobiel",
        "cellulare",
    ),
    "company": (
        "company",
        "companyname",
        "organisation",
        "organization",
        "organisationname",
        "organizationname",
        "org",
        "business",
        "businessname",
        "employer",
        "accountname",
        "companyaccount",  # Salesforce's "Company / Account"
        "firm",
        "firma",
        "unternehmen",
        "société",
        "societe",
        "entreprise",
        "empresa",
        "bedrijf",
        "bedrijfsnaam",
        "azienda",
    ),
    "source": ("source", "leadsource", "sourcename", "origin", "quelle", "herkunft"),
    "score": ("score", "leadscore"),
    "priority": ("priority", "prio", "leadpriority"),
}
SYNONYMS: dict[str, str] = {alias: name for name, aliases in _SYNONYMS.items() for alias in aliases}


def normalise(heading: str) -> str:
    """``"E-Mail Address"`` -> ``"emailaddress"``: letters and digits, lower-case."""
    return "".join(ch for ch in heading.casefold() if ch.isalnum())


def field_for(heading: str) -> str | None:
    """The field a heading means by the synonym table, or None."""
    key = normalise(heading)
    found = SYNONYMS.get(key)
    if found is None and key:
        # "Email 1", "Phone2": a numbered copy of a known column.
        found = SYNONYMS.get(key.rstrip("0123456789"))
    return found
