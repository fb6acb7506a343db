# Site data (rego/site.yaml, data.spin.config) with the defaults a site may leave out.
package spin.lib.site

default config := {}

config := data.spin.config

default_capabilities := ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"]

capabilities := {upper(c) | some c in object.get(config, "capabilities", default_capabilities)}

volume_types := {t | some t in object.get(config, "volume_types", [
	"emptyDir", "configMap", "secret", "persistentVolumeClaim", "projected", "downwardAPI",
])}

global_roots := object.get(config, ["global_fs", "roots"], ["/global"])

global_prefixes := object.get(config, ["global_fs", "prefixes"], [])

registries := object.get(config, "registries", [])

resource_defaults := object.get(config, ["resources", "defaults"], {})

resource_maxima := object.get(config, ["resources", "maxima"], {})

admin_group := object.get(config, "admin_group", "spin-admins")

allow_node_port := object.get(config, ["services", "allow_node_port"], false)

allow_load_balancer := object.get(config, ["services", "allow_load_balancer"], false)

ingress_domain := object.get(config, ["ingress", "domain"], "")

# Capabilities a container may add when its pod mounts the global file system: added
# capabilities are effective and ambient for the mapped non-root user on podman 4.3, so
# DAC_OVERRIDE, CHOWN, FOWNER or SETUID there read and write other members' files.
global_fs_capabilities := {upper(c) | some c in object.get(config, ["global_fs", "capabilities"], ["NET_BIND_SERVICE"])}

# Annotations a site declares harmless: "key" exactly, "prefix*" for every key under it.
default_annotations := ["spin.io/published", "spin.io/depends-on", "org.opencontainers.image.*"]

annotations_allowed := object.get(config, ["annotations", "allow"], default_annotations)

# Host ports a project may publish, on which host addresses (what the backend binds).
published_host_ips := object.get(config, ["published_ports", "host_ips"], ["127.0.0.1"])

published_range := object.get(config, ["published_ports", "range"], [1024, 65535])

published_privileged := object.get(config, ["published_ports", "allow_privileged"], false)

# Kinds the library knows besides the workload kinds; a site may add its own.
default_kinds := [
	"Namespace", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim",
	"NetworkPolicy", "ServiceAccount", "Ingress",
]

kinds := {k | some k in object.get(config, "kinds", default_kinds)}
