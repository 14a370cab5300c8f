"""Decodes NetFlow v9 / IPFIX messages with the Python `netflow` package (PyPI, bitkeks'
python-netflow-v9-softflowd) for tests/interop_decoders.rs.

Input (argv[1]): the datagrams a collector received, each as a 4-octet big-endian length
and the bytes. Output (stdout): one JSON object per data record,
{"version": 9|10, "template": ID, "fields": {"ELEMENT_ID": value}}, values as the package
decoded them (IPv6 addresses as text), then one line {"errors": [...]} naming every
message the package could not parse. Element IDs are the package's own: the v9 field
names it gives are mapped back to their numbers with its V9_FIELD_TYPES table.
"""
import ipaddress
import json
import struct
import sys

import netflow
from netflow.v9 import V9_FIELD_TYPES

V9_IDS = {name: number for number, name in V9_FIELD_TYPES.items()}
IPV6_ELEMENTS = {27, 28, 62, 63, 169, 170}
# The package gives these as integers (v9: only the fields of its
# V9_FIELD_TYPES_CONTAINING_IP become text, MPLS_TOP_LABEL_IP_ADDR is not one of them).
IPV4_ELEMENTS = {8, 12, 15, 18, 47}


def value(element, v):
    if element in IPV6_ELEMENTS and isinstance(v, int):
        return str(ipaddress.IPv6Address(v))
    if element in IPV4_ELEMENTS and isinstance(v, int):
        return str(ipaddress.IPv4Address(v))
    if isinstance(v, bytes):
        return int.from_bytes(v, "big")
    return v


def main(path):
    data = open(path, "rb").read()
    templates = {"netflow": {}, "ipfix": {}}
    errors = []
    offset = 0
    while offset + 4 <= len(data):
        (n,) = struct.unpack("!I", data[offset:offset + 4])
        msg = data[offset + 4:offset + 4 + n]
        offset += 4 + n
        try:
            packet = netflow.parse_packet(msg, templates)
        except Exception as e:  # the test reports every message the package refused
            errors.append("{}: {}".format(type(e).__name__, e))
            continue
        if packet.header.version == 9:
            template = 255 + packet.header.source_id
            for flow in packet.flows:
                fields = {str(V9_IDS[k]): value(V9_IDS[k], v) for k, v in flow.data.items()}
                print(json.dumps({"version": 9, "template": template, "fields": fields}))
        else:
            for s in packet.sets:
                if s.header.set_id < 256:
                    continue
                for r in s.records:
                    if not hasattr(r, "fields") or not isinstance(r.fields, set):
                        continue
                    fields = {str(k): value(k, v) for k, v in r.fields}
                    print(json.dumps(
                        {"version": 10, "template": s.header.set_id, "fields": fields}))
    print(json.dumps({"errors": errors}))


if __name__ == "__main__":
    main(sys.argv[1])
