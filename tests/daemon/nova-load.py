# SPDX-License-Identifier: GPL-2.0-or-later
# Loads provider config files the way nova-compute does: [compute]
# provider_config_location from a nova.conf, then Nova's own loader.  Prints
# the traits of $COMPUTE_NODE, sorted, one a line; exits 1 with Nova's
# message when Nova refuses the files.
import sys

from nova import exception
import nova.conf
from nova.compute import provider_config

CONF = nova.conf.CONF
CONF(["--config-file", sys.argv[1]], project="nova")
try:
    providers = provider_config.get_provider_configs(CONF.compute.provider_config_location)
except exception.ProviderConfigException as e:
    print("refused: %s" % e)
    sys.exit(1)
for trait in sorted(providers["$COMPUTE_NODE"]["traits"]["additional"]):
    print(trait)
