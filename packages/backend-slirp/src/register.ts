// Importing the package registers the `slirp` prefix in the default registry.
import { registerSlirpBackend } from './factory';

registerSlirpBackend();
