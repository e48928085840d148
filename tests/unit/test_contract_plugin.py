"""The `connector_contract` pytest plugin, as a third party's suite would use it: auto-loaded
in a fresh pytest process, passing a good connector and failing a broken one."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

THIRD_PARTY_SUITE = '''
import pytest
from rightsflow.connectors.testing import InMemoryConnector, in_memory_spec
from rightsflow.domain.errors import InvalidInput


class ForgetfulConnector(InMemoryConnector):
    """Deletes nothing but says it did."""

    def delete(self, node, keys):
        return len(keys)


@pytest.fixture
def store():
    return InMemoryConnector()


def test_good_connector_passes(connector_contract, store):
    connector = connector_contract.from_spec(in_memory_spec(store), {})
    connector_contract.run(connector, store.seed, store.rows, chunk_size=3)


def test_broken_connector_fails(connector_contract):
    store = ForgetfulConnector()
    connector_contract.run(store, store.seed, store.rows, chunk_size=3)


def test_spec_config_is_validated(connector_contract):
    with pytest.raises(InvalidInput, match="invalid config for connector 'memory'"):
        connector_contract.from_spec(in_memory_spec(), {"unexpected": 1})


def test_fixture_collections_are_described(connector_contract):
    assert [c.address for c in connector_contract.collections] == [
        connector_contract.parent, connector_contract.child
    ]
'''


def test_the_plugin_is_loaded_here_too(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.has_plugin("rightsflow_connector")


def test_a_third_party_suite_runs_the_contract(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_my_connector=THIRD_PARTY_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*test_broken_connector_fails*", "*ContractViolation: *delete*"])
