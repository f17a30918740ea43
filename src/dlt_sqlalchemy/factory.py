"""The `sqlalchemy` destination factory: what users pass as `destination=`."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Dict, Optional, Type, Union

from dlt.common.configuration.exceptions import ConfigurationValueError
from dlt.common.destination import Destination, DestinationCapabilitiesContext
from dlt.common.destination.reference import DestinationReference
from dlt.common.normalizers.naming import NamingConvention
from dlt.common.utils import simple_repr, without_none

from dlt_sqlalchemy.capabilities import adjust_to_credentials, base_capabilities
from dlt_sqlalchemy.configuration import (
    DESTINATION_TYPE,
    ENGINE_ARGS_DEPRECATED,
    SqlalchemyClientConfiguration,
    SqlalchemyCredentials,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

    from dlt_sqlalchemy.client.job_client import SqlalchemyJobClient


class sqlalchemy(Destination[SqlalchemyClientConfiguration, "SqlalchemyJobClient"]):
    """Loads into any database with a SQLAlchemy dialect; configured under `destination.<name>`."""

    spec = SqlalchemyClientConfiguration

    def __init__(
        self,
        credentials: Union[
            SqlalchemyCredentials, Dict[str, Any], str, sa.URL, sa.Engine, None
        ] = None,
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
            credentials: A SQLAlchemy URL (`"postgresql://loader@db/dwh"` or a `sqlalchemy.URL`),
                a dict of its split fields, a `SqlalchemyCredentials`, or a ready
                `sqlalchemy.Engine`. An Engine is used as is and never disposed: that is how an
                in-memory SQLite database survives.
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
            warnings.warn(ENGINE_ARGS_DEPRECATED, DeprecationWarning, stacklevel=2)
            engine_kwargs = engine_args
        constraints = {
            "create_primary_keys": create_primary_keys,
            "create_unique_indexes": create_unique_indexes,
        }
        naming = {"destination_name": destination_name, "environment": environment}
        super().__init__(
            credentials=credentials, engine_kwargs=engine_kwargs, **constraints, **naming, **kwargs
        )

    @property
    def destination_type(self) -> str:
        # the public import path, not the module the class happens to live in: pipeline state
        # and load info record it, and users write it as `destination="dlt_sqlalchemy.sqlalchemy"`
        return DESTINATION_TYPE

    def __repr__(self) -> str:
        # dlt's repr prints explicit config params verbatim, and a URL string carries its password
        kwargs = {**self.spec(), **self.config_params}
        credentials = kwargs.get("credentials")
        if credentials is not None:
            kwargs["credentials"] = _displayable_credentials(credentials)
        return simple_repr(self.destination_type, **without_none(kwargs))

    def _raw_capabilities(self) -> DestinationCapabilitiesContext:
        return base_capabilities()

    @property
    def client_class(self) -> Type[SqlalchemyJobClient]:
        from dlt_sqlalchemy.client.job_client import SqlalchemyJobClient

        return SqlalchemyJobClient

    @classmethod
    def adjust_capabilities(
        cls,
        caps: DestinationCapabilitiesContext,
        config: SqlalchemyClientConfiguration,
        naming: NamingConvention | None,
    ) -> DestinationCapabilitiesContext:
        """The dialect of the configured URL (or Engine) first, then the `loader_file_format`
        option, then dlt's naming adjustments."""
        caps = adjust_to_credentials(caps, config.credentials)
        if config.loader_file_format:
            caps.preferred_loader_file_format = config.loader_file_format  # type: ignore[assignment]
        return super().adjust_capabilities(caps, config, naming)


def _displayable_credentials(credentials: Any) -> str:
    """Renders credentials of any accepted form without the password or the query string."""
    if isinstance(credentials, SqlalchemyCredentials):
        return str(credentials)
    try:
        return str(SqlalchemyCredentials(credentials))
    except Exception:
        # not parseable: better to show nothing than a string that may hold a secret
        return "<credentials>"


sqlalchemy.register()
# also under the public path, so `Destination.from_reference` and restored pipeline state find it
# without importing by path
DestinationReference.register(sqlalchemy, DESTINATION_TYPE)
