#!/bin/sh
# control-center-config.sh SEED_DIR CONFIG_DIR
# Compose's control-center-config: copy the seed files into Control Center's shared config volume, once.
# A file already there is kept, since Control Center rewrites its alert rules and Alertmanager config as
# they are edited in its UI. Control Center, Prometheus and Alertmanager run as different users and the
# first must write what the others read, hence the open permissions (the volume is theirs alone).
set -eu
seed_dir="$1"
config_dir="$2"
for seed in "$seed_dir"/*.yml; do
  target="$config_dir/$(basename "$seed")"
  if [ -e "$target" ]; then
    echo "kept   $target"
  else
    cp "$seed" "$target"
    echo "seeded $target"
  fi
done
chmod -R a+rwX "$config_dir"
