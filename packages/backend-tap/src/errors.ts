import { NetbeError } from '@netbe/core';
import { isSysError } from '@netbe/sys';

/** Turns an errno error from opening or configuring a tap into a NetbeError that says what to do. */
export function tapError(e: unknown, what: string, ifname: string, device: string): NetbeError {
  if (!isSysError(e)) return new NetbeError('ERR_IO', `${what} ${ifname}: ${String(e)}`, { cause: e });
  const errno = e.code;
  const options = { cause: e, errno };
  switch (errno) {
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
      if (e.syscall === 'open') {
        return new NetbeError('ERR_UNAVAILABLE', `${what} ${ifname}: ${device} does not exist (load the tun module: modprobe tun)`, options);
      }
      break;
    case 'EPERM':
    case 'EACCES':
      return new NetbeError('ERR_UNAVAILABLE', `${what} ${ifname}: permission denied (${errno}); a tap needs CAP_NET_ADMIN or a persistent tap owned by this user`, options);
    case 'EBUSY':
      return new NetbeError('ERR_IO', `${what} ${ifname}: the interface is in use by another process (EBUSY)`, options);
    case 'EINVAL':
      if (e.syscall.includes('TUNSETIFF')) {
        return new NetbeError('ERR_IO', `${what} ${ifname}: an interface of that name exists and is not a tap with the same flags (EINVAL)`, options);
      }
      break;
  }
  return new NetbeError('ERR_IO', `${what} ${ifname}: ${e.message}`, options);
}
