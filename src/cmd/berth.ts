console.log('berth: not yet wired');
