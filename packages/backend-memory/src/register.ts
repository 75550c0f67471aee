// Importing the package registers the `memory` prefix in the default registry.
import { registerMemoryBackend } from './factory';

registerMemoryBackend();
