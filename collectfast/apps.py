from django.apps import AppConfig
from django.core.signals import setting_changed


class CollectfastConfig(AppConfig):
    name = "collectfast"
    verbose_name = "collectfast"

    def ready(self) -> None:
        from collectfast import checks
        from collectfast.compat import apply_legacy_staticfiles_storage

        checks.register()
        apply_legacy_staticfiles_storage()
        setting_changed.connect(apply_legacy_staticfiles_storage)
