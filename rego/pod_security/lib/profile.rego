# What the Pod Security Standards rules share: which profile applies to this
# call, and the pod-level fields (security context, metadata) of any workload.
#
# Baseline rules apply whatever the site says. Restricted rules apply when the
# site data asks (`pod_security: restricted`) or when the call's facility
# project is listed under `pod_security_projects` (a project entry overrides
# the site's value, as a namespace label overrides the cluster default).
package spin.lib.pod_security

import data.spin.lib.workload

# data.spin.config is read directly: object.get(data, ...) would make every rule depend on itself.
config := data.spin.config

levels := {"baseline", "restricted"}

site_level := object.get(config, "pod_security", "baseline")

project_level := config.pod_security_projects[input.project.facility_project]

default level := "baseline"

level := project_level

level := site_level if not project_level

# An unknown level (a typo in the site data) is treated as restricted: a security
# setting that cannot be read fails closed, and `reason` tells the user why.
restricted if level == "restricted"

restricted if not level in levels

default reason := "This project runs under the restricted Pod Security Standard."

reason := sprintf("The site data names %v as its Pod Security profile, which does not exist, so the restricted standard applies until security staff set baseline or restricted.", [level]) if not level in levels

# Pod metadata: the object's own for a Pod, the template's for the other kinds.
pod_meta_path := array.concat(array.slice(workload.pod_spec_path, 0, count(workload.pod_spec_path) - 1), ["metadata"])

pod_meta := object.get(workload.obj, pod_meta_path, {})

pod_meta_pointer := workload.pointer(pod_meta_path)

pod_sc := object.get(workload.pod_spec, "securityContext", {})

pod_sc_pointer := sprintf("%s/securityContext", [workload.pod_pointer])

sc(entry) := object.get(entry.container, "securityContext", {})

# hostUsers: false puts the pod in a user namespace: root inside is not root on
# the node, so the standards relax procMount (baseline), runAsNonRoot and runAsUser.
user_namespace if workload.pod_spec.hostUsers == false

windows if workload.pod_spec.os.name == "windows"
