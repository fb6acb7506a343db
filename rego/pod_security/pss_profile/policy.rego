# pss-profile: which Pod Security Standards profile this call is held to, and a
# refusal of every workload while the site data names a profile that does not exist.
package spin.rules.pss_profile

import data.spin.lib.pod_security as pss
import data.spin.lib.workload

meta := {
	"id": "pss-profile",
	"title": "Pod Security Standards profile in force",
	"profile": "site",
	"description": "Site data `pod_security` (baseline or restricted, default baseline) and `pod_security_projects` ({facility project: profile}) choose the profile; any other value refuses every workload until it is fixed.",
}

deny contains violation if {
	workload.is_workload
	some where, value in pss.bad_setting
	violation := {
		"rule": "pss-profile",
		"message": sprintf("the site data sets %s to %v, which is not a Pod Security Standards profile; until security staff set it to baseline or restricted, no workload is admitted", [where, value]),
		"path": "",
	}
}
