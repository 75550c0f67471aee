import { createBackend } from '@netbe/core';
import { backendConformance, peerHarness } from '@netbe/conformance';
import '../src/index';

// A pair made from config strings: the kit drives one end, the other end is the far side.
backendConformance({
  name: 'memory pair',
  supports: { send: true, receive: true, vnetHeader: true, reopen: true },
  maxFrameLength: 9014,
  create: async () => peerHarness(await createBackend('memory,mode=pair,peer=kit'), await createBackend('memory,mode=pair,peer=kit')),
}).run();

// The sink has no far side to look at and nothing to receive: those groups do not apply.
backendConformance({
  name: 'memory sink',
  supports: {
    send: { notApplicable: 'a sink keeps nothing to collect' },
    receive: { notApplicable: 'a sink never receives' },
    vnetHeader: true,
    reopen: true,
  },
  create: async () => ({ backend: await createBackend('memory,mode=sink') }),
}).run();
