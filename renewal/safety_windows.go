//go:build windows

package renewal

import (
	"fmt"
	"io/fs"

	"golang.org/x/sys/windows"
)

// ownerProblem says what is wrong with the owner of path, and the command
// that fixes it; "" if nothing: it must be owned by the user irpki runs as,
// the Administrators group (the owner of what an elevated administrator
// creates) or SYSTEM. irpki gives what it writes an access list that lets
// only its user in (see atomicfile); the access lists of files made by
// others are not inspected.
func ownerProblem(path string, _ fs.FileInfo) (why, fix string) {
	me, err := currentUser()
	if err != nil {
		return fmt.Sprintf("cannot be checked: the user irpki runs as is unknown (%v)", err), "another account"
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Sprintf("cannot be checked: its owner cannot be read (%v)", err), "icacls " + path + " /setowner " + accountName(me)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return "cannot be checked: it has no owner", "icacls " + path + " /setowner " + accountName(me)
	}
	if owner.Equals(me) || owner.IsWellKnown(windows.WinBuiltinAdministratorsSid) || owner.IsWellKnown(windows.WinLocalSystemSid) {
		return "", ""
	}
	return fmt.Sprintf("is owned by %s, not by %s, the user irpki runs as (only that user, Administrators or SYSTEM may own the state directory and its files)", accountName(owner), accountName(me)),
		fmt.Sprintf("icacls %s /setowner %s, or by running irpki as its owner", path, accountName(me))
}

// repairHint says how to make a whole state directory safe.
func repairHint(dir string) string {
	name := "USER"
	if me, err := currentUser(); err == nil {
		name = accountName(me)
	}
	return fmt.Sprintf("to repair the whole state directory at once, as an administrator: icacls %s /setowner %s /T", dir, name)
}

func currentUser() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, err
	}
	return tu.User.Sid, nil
}

// accountName names sid for messages: DOMAIN\user, or the SID.
func accountName(sid *windows.SID) string {
	if acct, dom, _, err := sid.LookupAccount(""); err == nil {
		if dom != "" {
			return dom + `\` + acct
		}
		return acct
	}
	return sid.String()
}
