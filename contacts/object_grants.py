"""Object grants (django-guardian) go with their object.

Guardian keeps a grant as (content type, primary key), without a foreign key, so deleting a campaign or a
contact list would leave its grants behind — and SQLite reuses the highest primary key, so the next object
could inherit them. Models that take grants connect `forget_grants` to `pre_delete`.
"""

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from guardian.models import GroupObjectPermission, UserObjectPermission


def forget_grants(sender: type[Model], instance: Model, **kwargs: object) -> None:
    """pre_delete receiver: delete every user's and group's grants on `instance`."""
    content_type = ContentType.objects.get_for_model(instance)
    for grants in (UserObjectPermission, GroupObjectPermission):
        grants.objects.filter(content_type=content_type, object_pk=str(instance.pk)).delete()
