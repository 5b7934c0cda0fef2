console.log('berthd: not yet wired');
