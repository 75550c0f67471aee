// Importing the package registers the `netmap:` and `vale` prefixes in the default registry.
import { registerNetmapBackends } from './factory';

registerNetmapBackends();
