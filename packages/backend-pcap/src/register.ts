// Importing the package registers the `pcap` prefix in the default registry.
import { registerPcapBackend } from './factory';

registerPcapBackend();
