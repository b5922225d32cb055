import './styles.css';
import { App } from './app/App.js';
import { SignalingClient } from './signaling/SignalingClient.js';

const root = document.getElementById('app');
if (!root) throw new Error('index.html has no #app element');
new App(root, new SignalingClient()).start();
