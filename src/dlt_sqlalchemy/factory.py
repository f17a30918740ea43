"""The `sqlalchemy` destination factory: what users pass as `destination=`."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Dict, Optional, Type, Union

from dlt.common.configuration.exceptions import ConfigurationValueError
from dlt.common.destination import Destination, DestinationCapabilitiesContext
from dlt.common.normalizers.naming import NamingConvention

from dlt_sqlalchemy.capabilities import adjust_to_credentials, base_capabilities
from dlt_sqlalchemy.configuration import SqlalchemyClientConfiguration, SqlalchemyCredentials

if TYPE_CHECKING:
    import sqlalchemy as sa

    from dlt_sqlalchemy.job_client import SqlalchemyJobClient


class sqlalchemy(Destination[SqlalchemyClientConfiguration, "SqlalchemyJobClient"]):
    """Loads into any database with a SQLAlchemy dialect. Config section: `destination.sqlalchemy`."""

    spec = SqlalchemyClientConfiguration

    def __init__(
        self,
        credentials: Union[SqlalchemyCredentials, Dict[str, Any], str, "sa.Engine", None] = None,
        create_unique_indexes: bool = False,
        create_primary_keys: bool = False,
        destination_name: Optional[str] = None,
        environment: Optional[str] = None,
        engine_kwargs: Optional[Dict[str, Any]] = None,
        engine_args: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        """Configures the destination; anything left out resolves from dlt config and secrets.

        Args:
            credentials: A SQLAlchemy URL (`"postgresql://loader@db/dwh"`), a dict of its split
                fields, a `SqlalchemyCredentials`, or a ready `sqlalchemy.Engine`. An Engine is
                used as is and never disposed: that is how an in-memory SQLite database survives.
            create_unique_indexes: Create UNIQUE constraints for columns hinted `unique`.
            create_primary_keys: Create PRIMARY KEY constraints for columns hinted `primary_key`.
            destination_name: Name of this destination; also its config section.
            environment: Environment name, as everywhere in dlt.
            engine_kwargs: Forwarded to `sqlalchemy.create_engine` (pool size, `connect_args`,
                `echo`...). Ignored when an Engine is passed.
            engine_args: Deprecated name of `engine_kwargs`.
            **kwargs: Other config fields (`replace_strategy`, `staging_dataset_name_layout`...)
                and capability overrides such as `type_mapper=` or `max_rows_per_insert=`.
        """
        if engine_args:
            if engine_kwargs:
                raise ConfigurationValueError(
                    "Pass `engine_kwargs` only: `engine_args` is its deprecated alias and both"
                    " were given."
                )
            warnings.warn(
                "`engine_args` is deprecated, use `engine_kwargs` (same meaning).",
                DeprecationWarning,
                stacklevel=2,
            )
            engine_kwargs = engine_args
        super().__init__(
            credentials=credentials,
            create_unique_indexes=create_unique_indexes,
            create_primary_keys=create_primary_keys,
            destination_name=destination_name,
            environment=environment,
            engine_kwargs=engine_kwargs,
            **kwargs,
        )

    def _raw_capabilities(self) -> DestinationCapabilitiesContext:
        return base_capabilities()

    @property
    def client_class(self) -> Type["SqlalchemyJobClient"]:
        from dlt_sqlalchemy.job_client import SqlalchemyJobClient

        return SqlalchemyJobClient

    @classmethod
    def adjust_capabilities(
        cls,
        caps: DestinationCapabilitiesContext,
        config: SqlalchemyClientConfiguration,
        naming: Optional[NamingConvention],
    ) -> DestinationCapabilitiesContext:
        caps = adjust_to_credentials(caps, config.credentials)
        return super().adjust_capabilities(caps, config, naming)


sqlalchemy.register()
