from django.apps import AppConfig


class CollectfastConfig(AppConfig):
    name = "collectfast"
    verbose_name = "collectfast"

    def ready(self) -> None:
        from collectfast import checks

        checks.register()
