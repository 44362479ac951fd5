#!/bin/sh
# control-center-config.sh SEED_DIR CONFIG_DIR [IMAGE_CONFIG_DIR]
# Compose's control-center-config: fill Control Center's shared config volume.
# - The seed files, once: a file already there is kept, since Control Center rewrites its alert rules and
#   Alertmanager config as they are edited in its UI.
# - The recording rules Control Center's charts query, from the Control Center image itself
#   (IMAGE_CONFIG_DIR, /etc/confluent-control-center by default), every time: they belong to its version.
# Control Center, Prometheus and Alertmanager run as different users and the first must write what the
# others read, hence the open permissions (the volume is theirs alone).
set -eu
seed_dir="$1"
config_dir="$2"
image_config_dir="${3:-/etc/confluent-control-center}"
for seed in "$seed_dir"/*.yml; do
  target="$config_dir/$(basename "$seed")"
  if [ -e "$target" ]; then
    echo "kept   $target"
  else
    cp "$seed" "$target"
    echo "seeded $target"
  fi
done
rules="$image_config_dir/recording_rules-generated.yml"
if [ ! -f "$rules" ]; then
  echo "error: $rules not found in the Control Center image; its charts need these recording rules" >&2
  exit 1
fi
cp "$rules" "$config_dir/recording_rules-generated.yml"
echo "copied $rules"
chmod -R a+rwX "$config_dir"
