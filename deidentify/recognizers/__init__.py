"""Custom Presidio recognizers for this domain, one a file, in Presidio's own style."""

from deidentify.recognizers.dea import UsDeaRecognizer
from deidentify.recognizers.encoded_email import EncodedEmailRecognizer
from deidentify.recognizers.full_date import FullDateRecognizer
from deidentify.recognizers.id_with_context import IdWithContextRecognizer
from deidentify.recognizers.medical_record_number import MedicalRecordNumberRecognizer
from deidentify.recognizers.name_forms import NameFormsRecognizer
from deidentify.recognizers.obfuscated_email import ObfuscatedEmailRecognizer
from deidentify.recognizers.offline_email import OfflineEmailRecognizer
from deidentify.recognizers.person_name_dictionary import PersonNameDictionaryRecognizer
from deidentify.recognizers.phone_with_context import PhoneWithContextRecognizer
from deidentify.recognizers.ssn_with_context import SsnWithContextRecognizer
from deidentify.recognizers.street_address import UsStreetAddressRecognizer
from deidentify.recognizers.zip_code import UsZipCodeRecognizer

__all__ = [
    "EncodedEmailRecognizer",
    "FullDateRecognizer",
    "IdWithContextRecognizer",
    "MedicalRecordNumberRecognizer",
    "NameFormsRecognizer",
    "ObfuscatedEmailRecognizer",
    "OfflineEmailRecognizer",
    "PersonNameDictionaryRecognizer",
    "PhoneWithContextRecognizer",
    "SsnWithContextRecognizer",
    "UsDeaRecognizer",
    "UsStreetAddressRecognizer",
    "UsZipCodeRecognizer",
]
