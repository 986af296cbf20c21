export function Popup() { return <div>Teddy</div>; }
