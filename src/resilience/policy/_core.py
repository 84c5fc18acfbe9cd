"""The Policy value: method patterns mapped to settings, with a bounded per-method cache."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from resilience._base.env import POLICY_VAR, STORE_VAR, env_value
from resilience._base.limits import MAX_CACHE_SIZE, MAX_ENTRIES, shown
from resilience.errors import ConfigError
from resilience.policy._chaos import ChaosSettings, RecordSettings, parse_chaos, parse_record
from resilience.policy._load import read_policy_file
from resilience.policy._match import Layer, MethodTable, parse_layer, pattern_service
from resilience.policy._peers import TrustedPeers
from resilience.policy._profiling import ProfilingSettings, parse_profiling
from resilience.policy._schema import MethodSettings
from resilience.policy._sections import store_url
from resilience.policy._values import SettingError, check_keys, convert, integer

TOP_KEYS = frozenset(
    {"methods", "trusted_peers", "faults", "chaos", "record", "profiling", "default_store"}
)
"""Keys of a policy's top-level table."""

DEFAULT_CACHE_SIZE = 4096
"""Method names remembered by :meth:`Policy.settings_for` besides the policy's own methods."""


class Policy:
    """Per-method settings for the interceptors, from method patterns; an immutable value.

    Patterns are ``*``, ``/pkg.Service/*`` and ``/pkg.Service/Method``; a method gets the
    built-in defaults, overridden by ``*``, then its service's pattern, then its own, key by
    key (see docs/policy.md). Everything is validated when the policy is built: a bad value
    raises :class:`~resilience.errors.ConfigError` naming its key path, for example
    ``methods./echo.Echo/Say.breaker.k: must be >= 1, got 0.5``.

    To change a running service's policy, build a new Policy and hand it to the interceptors
    (``update_policy``); :class:`PolicyWatcher` does that when a file changes.

    ``methods``: pattern -> table of settings (as in a file). ``trusted_peers``: CIDR networks,
    IP addresses or gRPC peer strings whose tier claims are honored. ``faults`` (a list of
    fault rule tables or :class:`~resilience.chaos.FaultRule`), ``chaos`` (``enabled``,
    ``allowed_colors``, ``seed``) and ``record`` (``rate``, ``path``, ``max_bytes``,
    ``backups``, ``secret_keys``): fault injection and traffic recording, installed by the
    interceptors (see :mod:`resilience.policy._chaos`). ``profiling``: load-aware profiling,
    armed by the server interceptors (see :mod:`resilience.policy._profiling`).
    ``default_store``: the store (``"memory"`` or a Redis URL) of every rate limit that names
    none (default ``"memory"``; :meth:`from_env` sets it from ``RESILIENCE_STORE_URL``).
    ``cache_size``: how many looked-up method names :meth:`settings_for` remembers (the cache
    is cleared when full, so a flood of unknown names costs a lookup each, never memory).
    """

    __slots__ = (
        "_cache",
        "_cache_limit",
        "_lock",
        "_peers",
        "_table",
        "chaos",
        "profiling",
        "record",
    )

    def __init__(
        self,
        *,
        methods: Mapping[str, Mapping[str, Any]] | None = None,
        trusted_peers: Iterable[str] | None = None,
        faults: Iterable[Any] | None = None,
        chaos: Mapping[str, Any] | ChaosSettings | None = None,
        record: Mapping[str, Any] | RecordSettings | None = None,
        profiling: Mapping[str, Any] | ProfilingSettings | None = None,
        default_store: str | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        cache_size = convert("cache_size", integer(ge=1, le=MAX_CACHE_SIZE), cache_size)
        if default_store is not None:
            default_store = convert("default_store", store_url, default_store)
        if methods is None:
            methods = {}
        if not isinstance(methods, Mapping):
            raise SettingError(
                "methods", f"must be a table of pattern -> settings, got {shown(methods)}"
            )
        if len(methods) > MAX_ENTRIES:
            raise SettingError("methods", f"must hold at most {MAX_ENTRIES} patterns")
        layers: dict[str, Layer] = {}
        for pattern, entry in methods.items():
            path = f"methods.{pattern}"
            pattern_service(path, pattern)
            layers[pattern] = parse_layer(path, entry)
        self._peers = TrustedPeers(() if trusted_peers is None else trusted_peers)
        self.chaos: ChaosSettings | None = parse_chaos(faults, chaos)
        """Fault rules and switches, or None when the policy has neither section."""
        self.record: RecordSettings | None = parse_record(record)
        """Traffic recording on servers, or None."""
        self.profiling: ProfilingSettings | None = parse_profiling(profiling)
        """Load-aware profiling, armed by servers, or None."""
        self._table = MethodTable(layers, default_store)
        self._cache_limit = len(self._table.exact) + cache_size
        self._cache: dict[str, MethodSettings] = dict(self._table.exact)
        self._lock = threading.Lock()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """Build a policy from the tree a file would hold: ``{"methods": {...},
        "trusted_peers": [...]}``. Durations may be numbers (seconds), strings such as
        ``"250ms"`` or ``timedelta``; a section may also be given as its settings object."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a policy must be a table (mapping), got {shown(data)}")
        check_keys("", data.keys(), TOP_KEYS)
        return cls(
            methods=data.get("methods"),
            trusted_peers=data.get("trusted_peers"),
            faults=data.get("faults"),
            chaos=data.get("chaos"),
            record=data.get("record"),
            profiling=data.get("profiling"),
            default_store=data.get("default_store"),
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Policy:
        """Load a policy file; the format follows the suffix: ``.toml``, ``.yaml``/``.yml``
        (needs the ``yaml`` extra) or ``.json``. Errors name the file and the key path."""
        tree, _ = read_policy_file(path)
        return cls.from_tree(tree, source=os.fspath(path))

    @classmethod
    def from_tree(cls, tree: object, *, source: str, store: str | None = None) -> Policy:
        """:meth:`from_dict` with validation errors prefixed by ``source`` (a file name).
        ``store``, when given, replaces the tree's ``default_store`` (see :meth:`from_env`)."""
        if store is not None:
            store = convert("default_store", store_url, store)
        try:
            if store is not None and isinstance(tree, Mapping):
                tree = {**tree, "default_store": store}
            return cls.from_dict(tree)  # type: ignore[arg-type]  # from_dict checks the type
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    @classmethod
    def from_env(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        store: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Policy:
        """The policy of a twelve-factor deployment, configured by its environment.

        The file: ``path``, else the one ``RESILIENCE_POLICY`` names, else none (the default
        policy). The default store of rate limits that name none: ``store``, else
        ``RESILIENCE_STORE_URL``, else the file's ``default_store``, else ``"memory"``. An
        explicit argument wins over the environment, the environment over the file; a
        variable set to the empty string counts as unset. ``environ``: the variables to read
        (default ``os.environ``). A bad value raises ConfigError naming the variable."""
        if store is not None:
            store = convert("store", store_url, store)
        else:
            store = env_value(STORE_VAR, environ)
            if store is not None:
                store = convert(STORE_VAR, store_url, store)
        source = "" if path is None else os.fspath(path)
        if path is None:
            path = env_value(POLICY_VAR, environ)
            if path is None:
                return cls.from_tree({}, source=STORE_VAR, store=store)
            source = f"{POLICY_VAR}={path}"
        try:
            tree, _ = read_policy_file(path)
        except OSError as exc:
            raise ConfigError(
                f"{source}: cannot read the policy file ({exc.strerror or exc}); "
                "set the path of a readable .toml, .yaml or .json file"
            ) from None
        except ConfigError as exc:
            if source.startswith(POLICY_VAR):
                raise ConfigError(f"{POLICY_VAR}: {exc}") from None
            raise
        return cls.from_tree(tree, source=source, store=store)

    @classmethod
    def default(cls) -> Policy:
        """Propagation and the breaker on for every method; timeouts, limits and overload off."""
        return cls()

    def settings_for(self, method: str) -> MethodSettings:
        """The settings of ``method``, a full gRPC method name (``/pkg.Service/Method``).

        O(1): one dict lookup once the method has been seen. Names matching no pattern (or not
        of that form) get the ``*`` settings. Thread-safe.
        """
        found = self._cache.get(method)
        if found is None:
            found = self._remember(method)
        return found

    def _remember(self, method: str) -> MethodSettings:
        found = self._table.lookup(method)
        with self._lock:
            if len(self._cache) >= self._cache_limit:
                self._cache = dict(self._table.exact)
            self._cache[method] = found
        return found

    def declared_settings(self) -> tuple[MethodSettings, ...]:
        """The resolved settings of every pattern, ``*`` first: all settings a method can get
        (for checks done once per policy, such as reaching every rate limit's store)."""
        table = self._table
        return (table.fallback, *table.services.values(), *table.exact.values())

    @property
    def trusted_peers(self) -> tuple[str, ...]:
        """The trusted peer entries, as given."""
        return self._peers.entries

    def is_trusted_peer(self, peer: str) -> bool:
        """Whether a gRPC peer string (``context.peer()``, e.g. ``ipv4:10.0.0.7:51234``) matches
        a trusted entry, so the tier it claims is honored. Cached, bounded, thread-safe."""
        return peer in self._peers

    @property
    def fallback(self) -> MethodSettings:
        """The settings of methods that match no service or method pattern (``*``'s)."""
        return self._table.fallback

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Policy):
            return NotImplemented
        return (self._table, self._peers, self.chaos, self.record, self.profiling) == (
            other._table,
            other._peers,
            other.chaos,
            other.record,
            other.profiling,
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def patterns(self) -> tuple[str, ...]:
        """The method patterns, ``*`` first (always: it holds the built-in defaults when the
        policy does not declare it), then the services' and the methods' own."""
        services = [f"{service}/*" for service in self._table.services]
        return ("*", *services, *self._table.exact)

    def __repr__(self) -> str:
        patterns = list(self.patterns)
        return f"Policy(patterns={patterns!r}, trusted_peers={list(self.trusted_peers)!r})"
