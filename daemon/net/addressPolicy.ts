/**
 * Which network addresses a download may reach. A web page can hand the extension
 * any URL, so by default only public unicast addresses are allowed: no loopback (the
 * daemon itself), no private network, no link-local (cloud metadata endpoints).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';

export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed.range() === 'unicast';
}

/** Whether a download may connect to an address. */
export type AddressCheck = (address: string) => boolean;

export const allowAnyAddress: AddressCheck = () => true;

export function addressCheckFor(settings: { allowPrivateAddresses: boolean; addressCheck?: AddressCheck | undefined }): AddressCheck {
  return settings.addressCheck ?? (settings.allowPrivateAddresses ? allowAnyAddress : isPublicAddress);
}

export class BlockedAddressError extends Error {
  readonly code = 'EBLOCKEDADDRESS';
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request that resolves the name and refuses non-public answers.
 * The socket then connects to the very address that was checked, so a DNS answer that
 * changes between a check and the connection cannot slip through.
 */
export function guardedLookup(allowed: AddressCheck) {
  return (hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true, family: typeof options.family === 'number' ? options.family : 0 }, (err, addresses) => {
      if (err) return callback(err, []);
      const usable = addresses.filter((a) => allowed(a.address));
      if (usable.length === 0) {
        return callback(new BlockedAddressError(`${hostname} resolves only to non-public addresses (${addresses.map((a) => a.address).join(', ')})`), []);
      }
      if (options.all) return callback(null, usable);
      const first = usable[0]!;
      callback(null, first.address, first.family);
    });
  };
}
