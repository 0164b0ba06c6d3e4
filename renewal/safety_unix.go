//go:build !windows

package renewal

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// ownerProblem says what is wrong with the owner or modes of path, and the
// command that fixes it; "" if nothing: it must be owned by the user irpki
// runs as (or root) and not writable by group or others.
func ownerProblem(path string, fi fs.FileInfo) (why, fix string) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if uid, me := int(st.Uid), os.Geteuid(); uid != me && uid != 0 {
			return fmt.Sprintf("is owned by %s, not by %s, the user irpki runs as (only that user, or root, may own the state directory and its files)", userName(uid), userName(me)),
				fmt.Sprintf("chown %s %s, or by running irpki as its owner", loginName(me), path)
		}
	}
	if fi.Mode()&fs.ModeSymlink == 0 && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Sprintf("is writable by group or others (mode %04o; nobody but irpki's user may be able to write into the state directory or its files)", fi.Mode().Perm()),
			"chmod go-w " + path
	}
	return "", ""
}

// repairHint says how to make a whole state directory safe.
func repairHint(dir string) string {
	return fmt.Sprintf("to repair the whole state directory at once, as root or its owner: chown -R %s %s && chmod -R go-w %s", loginName(os.Geteuid()), dir, dir)
}

// userName names uid for messages: "alice (uid 1000)", or "uid 1000".
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("%s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}

// loginName is uid's user name, or the number, for a chown command.
func loginName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}
