"""Contacts, lists, suppressions, consents and imports over the API: thin views over contacts' services.

Writes go through the same services (and, for many contacts at once, the same import rules) as the
admin, so a number is read, refused or merged the same way whichever door it came in by.
"""

import uuid

import django_filters
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from guardian.shortcuts import get_objects_for_user
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import services
from contacts.importing.bulk import (
    MAX_RECORDS,
    BulkUpsertError,
    contacts_bulk_upsert,
    custom_field_refusal,
    record_problems,
)
from contacts.importing.files import ImportFileError, check_file_size
from contacts.importing.jobs import contact_import_job_create
from contacts.importing.rules import TIME_ZONES
from contacts.models import Consent, Contact, ContactImportIssue, ContactImportJob, ContactList, Suppression
from contacts.phone_numbers import InvalidPhoneNumber, parse_phone_number
from contacts.selectors import import_job_progress, is_suppressed


class NewestFirst(CursorPagination):
    """Cursor pagination (stable under inserts, constant cost however deep) for the big lists."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000


# ---- contacts ----------------------------------------------------------------------------------


class ContactSerializer(serializers.ModelSerializer):
    lists = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    email = serializers.CharField(read_only=True, help_text="An email address, or empty.")

    class Meta:
        model = Contact
        fields = (
            "id", "phone", "first_name", "last_name", "email", "country", "time_zone", "time_zone_candidates",
            "time_zone_ambiguous", "language", "custom_fields", "lists", "created_at", "updated_at", "erased_at",
        )  # fmt: skip
        read_only_fields = fields


class ContactWriteSerializer(serializers.Serializer):
    """A contact as a client sends it. `phone` in any format (national numbers read in DEFAULT_PHONE_REGION)."""

    phone = serializers.CharField(max_length=40)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    language = serializers.CharField(max_length=16, required=False, allow_blank=True)
    time_zone = serializers.CharField(max_length=64, required=False, allow_blank=True)
    custom_fields = serializers.DictField(required=False)
    lists = serializers.SlugRelatedField(
        slug_field="name", many=True, required=False, queryset=ContactList.objects.all(),
        help_text="Names of existing contact lists.",
    )  # fmt: skip

    def validate_time_zone(self, value: str) -> str:
        if value and value not in TIME_ZONES:
            raise ValidationError(
                gettext("%(zone)r is not an IANA time zone (e.g. America/New_York).") % {"zone": value}
            )
        return value


class ContactFilter(django_filters.FilterSet):
    list = django_filters.ModelChoiceFilter(field_name="lists", queryset=ContactList.objects.all())
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    updated_after = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Contact
        fields = ("country", "language")


class BulkContactSerializer(serializers.Serializer):
    """One record of a bulk upsert. It is checked by the import's row rules, not here, so that a bad record
    is reported in its row instead of failing the batch."""

    phone = serializers.CharField(allow_blank=True)
    first_name = serializers.CharField(required=False, allow_blank=True)
    last_name = serializers.CharField(required=False, allow_blank=True)
    email = serializers.CharField(required=False, allow_blank=True)
    language = serializers.CharField(required=False, allow_blank=True)
    time_zone = serializers.CharField(required=False, allow_blank=True)
    lists = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    custom_fields = serializers.DictField(required=False)


class BulkUpsertSerializer(serializers.Serializer):
    """The request's shape, for the schema; the view checks it by `record_problems` (fast at 10,000)."""

    contacts = BulkContactSerializer(many=True, allow_empty=False, max_length=MAX_RECORDS)
    list = serializers.PrimaryKeyRelatedField(
        queryset=ContactList.objects.all(), required=False, allow_null=True,
        help_text="Every contact of the batch also joins this list.",
    )  # fmt: skip


class BulkListSerializer(serializers.Serializer):
    list = serializers.PrimaryKeyRelatedField(queryset=ContactList.objects.all(), required=False, allow_null=True)


class BulkRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="1-based position of the record in `contacts`.")
    outcome = serializers.ChoiceField(choices=["create", "update", "unchanged", "duplicate", "suppressed", "rejected"])
    reason = serializers.CharField()
    phone = serializers.CharField(help_text="E.164, when the number could be read.")


class BulkResultSerializer(serializers.Serializer):
    counts = serializers.DictField(child=serializers.IntegerField())
    rows = BulkRowSerializer(many=True)


BULK_EXAMPLE = OpenApiExample(
    "Two contacts",
    value={
        "contacts": [
            {"phone": "(202) 555-0143", "first_name": "Ada", "lists": ["Customers"],
             "custom_fields": {"external_id": "crm-17", "amount_due": "120.00"}},
            {"phone": "+44 20 7946 0958", "first_name": "Alan", "time_zone": "Europe/London"},
        ]
    },
    request_only=True,
)  # fmt: skip


class ContactViewSet(viewsets.ModelViewSet):
    """Contacts. DELETE erases the person's data (GDPR): the number goes on the do-not-call list and the
    contact stays as a tombstone so its calls keep their history."""

    queryset = Contact.objects.prefetch_related("lists")
    object_grants = "lists"  # a contact list's grants reach its contacts
    filterset_class = ContactFilter
    search_fields = ("first_name", "last_name", "email")
    pagination_class = NewestFirst
    ordering_fields = ()

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return ContactWriteSerializer if self.action in ("create", "update", "partial_update") else ContactSerializer

    @extend_schema(request=ContactWriteSerializer, responses={201: ContactSerializer, 200: ContactSerializer})
    def create(self, request: Request) -> Response:
        """Create a contact, or update the one with this number (200)."""
        data = self._valid(request.data)
        try:
            contact, created = services.contact_upsert(**data)
        except InvalidPhoneNumber as error:
            raise ValidationError({"phone": [str(error)]}) from error
        body = ContactSerializer(contact).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=ContactWriteSerializer, responses=ContactSerializer)
    def update(self, request: Request, pk: str | None = None, partial: bool = False) -> Response:
        contact = self.get_object()
        data = self._valid(request.data, partial=partial or request.method == "PATCH")
        lists = data.pop("lists", None)
        if lists is not None and not request.user.has_perm("contacts.change_contact"):
            lists = lists_granted_to_change(request.user, named=lists)
        try:
            contact = services.contact_update(contact=contact, lists=lists, **data)
        except InvalidPhoneNumber as error:
            raise ValidationError({"phone": [str(error)]}) from error
        except ValueError as error:
            raise ValidationError({"non_field_errors": [str(error)]}) from error
        return Response(ContactSerializer(contact).data)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self.update(request, pk, partial=True)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.contact_erase(contact=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[
            OpenApiParameter("phone", str, description="In any format; national numbers in DEFAULT_PHONE_REGION."),
            OpenApiParameter("external_id", str, description="The `external_id` custom field."),
        ],
        responses=ContactSerializer,
    )
    @action(detail=False, methods=["get"])
    def lookup(self, request: Request) -> Response:
        """One contact by its number (in any format) or by the `external_id` custom field."""
        phone, external_id = request.query_params.get("phone"), request.query_params.get("external_id")
        if bool(phone) == bool(external_id):
            raise ValidationError({"non_field_errors": ["Give either phone or external_id."]})
        if phone:
            try:
                query = Q(phone=parse_phone_number(phone).e164)
            except InvalidPhoneNumber as error:
                raise ValidationError({"phone": [str(error)]}) from error
        else:
            # Both conditions, so that PostgreSQL uses the partial index `contact_external_id`.
            query = Q(custom_fields__has_key="external_id", custom_fields__external_id=external_id)
        return Response(ContactSerializer(get_object_or_404(self.filter_queryset(self.get_queryset()), query)).data)

    @extend_schema(request=BulkUpsertSerializer, responses=BulkResultSerializer, examples=[BULK_EXAMPLE])
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk_upsert(self, request: Request) -> Response:
        """Create or update up to 10,000 contacts through the file import's rules; each record's outcome.

        A record the rules reject or skip (bad number, bad email or zone, repeated number, do-not-call)
        does not stop the others: see its row in `rows`.
        """
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send a JSON object with `contacts`."]})
        records = request.data.get("contacts")
        problems = record_problems(records)
        if problems:
            raise ValidationError({"contacts": problems})
        target = BulkListSerializer(data=request.data)
        target.is_valid(raise_exception=True)
        try:
            result = contacts_bulk_upsert(records=records, contact_list=target.validated_data.get("list"))
        except BulkUpsertError as error:
            raise ValidationError({"contacts": [str(error)]}) from error
        rows = [{"row": r.row, "outcome": r.outcome, "reason": r.reason, "phone": r.phone} for r in result.rows]
        return Response({"counts": result.counts, "rows": rows})

    def _valid(self, data: object, *, partial: bool = False) -> dict:
        serializer = ContactWriteSerializer(data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        if "custom_fields" in values:
            for key in values["custom_fields"]:
                refusal = custom_field_refusal(key)
                if refusal:
                    raise ValidationError({"custom_fields": [refusal]})
        return values


def lists_granted_to_change(user: AbstractBaseUser, *, named: list[ContactList]) -> list[ContactList]:
    """`named`, when a caller acting through object grants may change each of those lists (a grant of
    `change_contactlist`); ValidationError naming the others."""
    granted = set(get_objects_for_user(user, "contacts.change_contactlist", ContactList, accept_global_perms=False))
    refused = sorted(contact_list.name for contact_list in named if contact_list not in granted)
    if refused:
        raise ValidationError({"lists": [f"You may not add contacts to: {', '.join(refused)}."]})
    return named


# ---- lists, consents ---------------------------------------------------------------------------


class ContactListSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactList
        fields = ("id", "name", "description", "created_at")
        read_only_fields = ("id", "created_at")


class ContactListViewSet(viewsets.ModelViewSet):
    queryset = ContactList.objects.all()
    object_grants = "self"
    serializer_class = ContactListSerializer
    search_fields = ("name",)
    filterset_fields = ("name",)


class ConsentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Consent
        fields = ("id", "contact", "purpose", "source", "evidence", "given_at", "revoked_at", "created_at")
        read_only_fields = ("id", "created_at")

    def validate(self, attrs: dict) -> dict:
        instance = Consent(**{**(self._instance_values()), **attrs})
        if instance.revoked_at and instance.given_at and instance.revoked_at < instance.given_at:
            raise ValidationError({"revoked_at": ["Consent cannot be revoked before it was given."]})
        return attrs

    def _instance_values(self) -> dict:
        if self.instance is None:
            return {}
        return {"given_at": self.instance.given_at, "revoked_at": self.instance.revoked_at}


class ConsentViewSet(viewsets.ModelViewSet):
    """Consents: what a contact agreed to. Revoke one by PATCHing `revoked_at`; DELETE is refused (evidence)."""

    queryset = Consent.objects.all()
    object_grants = "contact__lists"
    serializer_class = ConsentSerializer
    filterset_fields = ("contact", "purpose")
    http_method_names = ("get", "post", "patch", "head", "options")


# ---- suppressions ------------------------------------------------------------------------------


class SuppressionSerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = Suppression
        fields = ("id", "phone", "reason", "source", "created_at", "is_active", "lifted_at", "lift_reason")
        read_only_fields = fields


class SuppressionAddSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=40, help_text="In any format.")
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class SuppressionCheckSerializer(serializers.Serializer):
    phone = serializers.CharField(help_text="E.164.")
    suppressed = serializers.BooleanField()


class SuppressionFilter(django_filters.FilterSet):
    active = django_filters.BooleanFilter(field_name="lifted_at", lookup_expr="isnull")

    class Meta:
        model = Suppression
        fields = ("phone", "source")


def _e164(phone: str) -> str:
    try:
        return parse_phone_number(phone).e164
    except InvalidPhoneNumber as error:
        raise ValidationError({"phone": [str(error)]}) from error


class SuppressionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The do-not-call list: add a number, lift it, check one. Lifting keeps the record."""

    queryset = Suppression.objects.all()
    serializer_class = SuppressionSerializer
    filterset_class = SuppressionFilter
    pagination_class = NewestFirst
    action_permissions = {"lift": ["contacts.change_suppression"]}

    @extend_schema(request=SuppressionAddSerializer, responses={201: SuppressionSerializer})
    def create(self, request: Request) -> Response:
        """Suppress a number (idempotent: an already suppressed number keeps its first record, 200)."""
        data = SuppressionAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        phone = _e164(data.validated_data["phone"])
        already = is_suppressed(phone)
        suppression = services.suppression_add(
            phone=phone, reason=data.validated_data["reason"], source=Suppression.Source.API, created_by=request.user
        )
        code = status.HTTP_200_OK if already else status.HTTP_201_CREATED
        return Response(SuppressionSerializer(suppression).data, status=code)

    @extend_schema(request=SuppressionAddSerializer, responses=SuppressionSerializer)
    @action(detail=False, methods=["post"])
    def lift(self, request: Request) -> Response:
        """Lift a number's active suppression (404 when it has none)."""
        data = SuppressionAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        suppression = services.suppression_remove(
            phone=_e164(data.validated_data["phone"]), lifted_by=request.user, reason=data.validated_data["reason"]
        )
        if suppression is None:
            raise NotFound("The number has no active suppression to lift.")
        return Response(SuppressionSerializer(suppression).data)

    @extend_schema(parameters=[OpenApiParameter("phone", str, required=True)], responses=SuppressionCheckSerializer)
    @action(detail=False, methods=["get"])
    def check(self, request: Request) -> Response:
        """Whether a number (in any format) may not be called now."""
        phone = _e164(request.query_params.get("phone", ""))
        return Response({"phone": phone, "suppressed": is_suppressed(phone)})


# ---- imports -----------------------------------------------------------------------------------


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (any encoding and delimiter) or XLSX with a phone column.")
    contact_list = serializers.PrimaryKeyRelatedField(queryset=ContactList.objects.all(), required=False)
    sheet = serializers.CharField(required=False, allow_blank=True, default="", help_text="XLSX sheet.")


class ImportJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ContactImportJob.Status.choices)
    status_display = serializers.CharField()
    total_rows = serializers.IntegerField()
    processed_rows = serializers.IntegerField()
    percent = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    skipped = serializers.IntegerField()
    rejected = serializers.IntegerField()
    warnings = serializers.ListField(child=serializers.CharField())
    error = serializers.CharField()
    finished = serializers.BooleanField()


class ImportIssueSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactImportIssue
        fields = ("row_number", "outcome", "reason", "values")


class ImportIssuePagination(CursorPagination):
    ordering = ("row_number",)
    page_size = 100


class ContactImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Upload a contact file; it is imported in the background (the same job as the admin's). Read its
    progress at /imports/{id}/ and the rows it did not import at /imports/{id}/issues/."""

    queryset = ContactImportJob.objects.all()
    object_grants = "contact_list"  # the list it imported into
    serializer_class = ImportJobSerializer
    parser_classes = (MultiPartParser, FormParser)
    filterset_fields = ("status",)
    ordering_fields = ()  # newest first; the progress fields it shows are not columns to order by

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([import_job_progress(job=job) for job in page])

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(import_job_progress(job=self.get_object()))

    @extend_schema(request={"multipart/form-data": ImportUploadSerializer}, responses={202: ImportJobSerializer})
    def create(self, request: Request) -> Response:
        data = ImportUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        file_format = "xlsx" if upload.name.lower().endswith(".xlsx") else "csv"
        try:
            check_file_size(upload.size)
        except ImportFileError as error:
            raise ValidationError({"file": [str(error)]}) from error
        name = default_storage.save(f"contact-imports/{uuid.uuid4().hex}.{file_format}", upload)
        job = contact_import_job_create(
            file_name=name, original_name=upload.name, file_format=file_format,
            sheet=data.validated_data["sheet"], contact_list=data.validated_data.get("contact_list"),
            created_by=request.user,
        )  # fmt: skip
        return Response(import_job_progress(job=job), status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=ImportIssueSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=ImportIssuePagination)
    def issues(self, request: Request, pk: str | None = None) -> Response:
        """The rows this import skipped or rejected, with the reason and the row's cells."""
        job = self.get_object()
        page = self.paginate_queryset(ContactImportIssue.objects.filter(job=job))
        return self.get_paginated_response(ImportIssueSerializer(page, many=True).data)
