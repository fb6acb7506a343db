# registries: images only from the site's repositories; digests accepted, `latest` warned.
package spin.rules.registries

import data.spin.lib.site
import data.spin.lib.workload

meta := {
	"id": "registries",
	"title": "Images from the site's registries",
	"profile": "site",
	"description": "Refuses images outside the site's repositories (a short name like `busybox` means docker.io/library/busybox); a digest is accepted, a `latest` or missing tag is warned.",
}

# "busybox:1.35" -> {"repo": "docker.io/library/busybox", "tag": "1.35", "digest": ""}
parse(image) := {"repo": lower(repo), "tag": tag, "digest": digest} if {
	at := split(image, "@")
	digest := concat("@", array.slice(at, 1, count(at)))
	segs := split(at[0], "/")
	last := segs[count(segs) - 1]
	colon := split(last, ":")
	tag := concat(":", array.slice(colon, 1, count(colon)))
	name := concat("/", array.concat(array.slice(segs, 0, count(segs) - 1), [colon[0]]))
	repo := qualified(segs, name)
}

qualified(segs, name) := concat("/", ["docker.io/library", name]) if count(segs) == 1

qualified(segs, name) := name if {
	count(segs) > 1
	registry_host(segs[0])
}

qualified(segs, name) := concat("/", ["docker.io", name]) if {
	count(segs) > 1
	not registry_host(segs[0])
}

registry_host(first) if contains(first, ".")

registry_host(first) if contains(first, ":")

registry_host(first) if first == "localhost"

from_site(repo) if {
	some allowed in site.registries
	prefix := lower(trim_suffix(allowed, "/"))
	repo == prefix
}

from_site(repo) if {
	some allowed in site.registries
	startswith(repo, concat("", [lower(trim_suffix(allowed, "/")), "/"]))
}

# Each container's image, parsed once per decision.
# The image reference grammar of the distribution project: anything else (`..` in a path,
# upper case, a stray space) is refused rather than guessed at.
reference_grammar := concat("", [
	`^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?/)?`,
	`[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*`,
	`(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?`,
	`(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
])

# (Not parsed here: an element whose parse failed would vanish, and its container with it.)
images contains {"container": e.name, "image": image, "path": concat("", [e.path, "/image"])} if {
	some e in workload.containers
	image := object.get(e.container, "image", "")
}

deny contains violation if {
	some img in images
	is_string(img.image)
	ref := parse(img.image)
	not from_site(ref.repo)
	violation := {
		"rule": "registries",
		"message": sprintf("container %q uses image %q (%s), which is not from this site's registries; use an image under %s", [img.container, img.image, ref.repo, concat(", ", site.registries)]),
		"path": img.path,
	}
}

deny contains violation if {
	some img in images
	not valid_reference(img.image)
	violation := {
		"rule": "registries",
		"message": sprintf("container %q has no valid image reference (%q); name an image such as %s/<name>:<tag>", [img.container, img.image, concat(" or ", site.registries)]),
		"path": img.path,
	}
}

warn contains msg if {
	some img in images
	is_string(img.image)
	ref := parse(img.image)
	ref.digest == ""
	ref.tag in {"", "latest"}
	msg := sprintf("registries: container %q uses %q without a fixed version; pin a tag or a digest so a rebuild cannot change what runs", [img.container, img.image])
}

valid_reference(image) if {
	is_string(image)
	regex.match(reference_grammar, image)
}
