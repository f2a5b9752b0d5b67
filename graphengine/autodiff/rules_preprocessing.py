"""The preprocessing ops have no gradient: their inputs are strings or integer ids, and a count
weighted by a float input is not differentiated (asking raises, never a silent zero)."""

from graphengine.autodiff.rules import no_gradient
from graphengine.ops.lookup import CategoryEncode, HostLookup

no_gradient(HostLookup, CategoryEncode)
