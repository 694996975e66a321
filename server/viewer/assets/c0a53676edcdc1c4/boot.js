import init from './frontend.js';
init();
