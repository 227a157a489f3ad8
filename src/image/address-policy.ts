/**
 * Which network addresses a remote image fetch may connect to. Only globally routable unicast
 * addresses pass by default; the check runs on resolved addresses, and the connection then uses the
 * very address that was checked, so a DNS answer that changes between check and connect (rebinding)
 * cannot reach an internal host.
 */

import type { LookupAddress, LookupOptions } from "node:dns";
import dns from "node:dns";
import ipaddr from "ipaddr.js";
import { ImageError } from "../errors.js";

/**
 * The ipaddr.js range name of `address` ("unicast", "loopback", "private", ...); IPv4-mapped IPv6 is
 * unwrapped. `::/96` (deprecated IPv4-compatible IPv6, RFC 4291 §2.5.5.1), which ipaddr.js calls
 * "unicast", is named "ipv4Compatible": some stacks route `::7f00:1` to 127.0.0.1.
 */
export function addressRange(address: string): string {
  // process() turns ::ffff:127.0.0.1 into 127.0.0.1 so a mapped loopback reads as loopback.
  const parsed = ipaddr.process(address);
  const range = parsed.range();
  if (
    parsed.kind() === "ipv6" &&
    range === "unicast" &&
    parsed
      .toByteArray()
      .slice(0, 12)
      .every((b) => b === 0)
  )
    return "ipv4Compatible";
  return range;
}

/** True for addresses on the public internet. Everything ipaddr.js names other than "unicast" is refused. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return addressRange(address) === "unicast";
}

/**
 * Throws IMAGE_SOURCE_NOT_ALLOWED unless `address` may be contacted under the policy. The error names
 * an address and its range only when the client gave that address itself (an IP literal): what a host
 * name resolved to is internal information and stays out of the message and details.
 */
export function assertAddressAllowed(host: string, address: string, allowPrivate: boolean): void {
  if (allowPrivate || isPublicAddress(address)) return;
  const hint = "only public addresses may be fetched (set allowPrivateAddresses to reach private networks)";
  if (host === address) {
    const range = ipaddr.isValid(address) ? addressRange(address) : "invalid";
    throw new ImageError("IMAGE_SOURCE_NOT_ALLOWED", `image address ${address} is ${range}; ${hint}`, {
      details: { host, range },
    });
  }
  throw new ImageError(
    "IMAGE_SOURCE_NOT_ALLOWED",
    `image host ${host} does not resolve to a public address; ${hint}`,
    { details: { host } },
  );
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for http(s).request / net.connect that resolves `hostname`, refuses it when any of its
 * addresses is non-public (a mixed answer could be used to pick an internal one), and hands back only
 * checked addresses so the socket connects to them and never re-resolves.
 */
export function checkedLookup(allowPrivate: boolean) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      try {
        if (addresses.length === 0) throw new Error(`no addresses for ${hostname}`);
        for (const a of addresses) assertAddressAllowed(hostname, a.address, allowPrivate);
      } catch (e) {
        return callback(e as NodeJS.ErrnoException, []);
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}
