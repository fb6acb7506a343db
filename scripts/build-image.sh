#!/usr/bin/env bash
# Builds localhost/spin/busybox:1.36 from Debian's busybox-static: no registry
# is reachable, so the examples and tests run on an image made here.
set -euo pipefail
IMAGE=${SPIN_IMAGE:-localhost/spin/busybox:1.35}
if podman image exists "$IMAGE"; then exit 0; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/tmp" "$tmp/etc" "$tmp/www" "$tmp/data"
cp /bin/busybox "$tmp/bin/busybox"
for applet in $("$tmp/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$tmp/bin/$applet"
done
chmod 1777 "$tmp/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$tmp/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$tmp/etc/group"
tar -C "$tmp" -c . | podman import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' - "$IMAGE" >/dev/null
echo "built $IMAGE" >&2
